/**
 * Statistics core of the online/offline parity checker (DESIGN.md, "Parity (online/offline)"):
 * pure, deterministic functions from paired feature values to per-feature results and an alert.
 */
export * from './bins.js';
export * from './chi-square.js';
export * from './feature-report.js';
export * from './incomplete-gamma.js';
export * from './jensen-shannon.js';
export * from './kolmogorov-distribution.js';
export * from './ks-test.js';
export * from './numeric.js';
export * from './psi.js';
export * from './row-compare.js';
