export { topology, label, type Topology, type TopologyBuilder, type Stream, type Group, type FeatureSpec, type VectorOf, type RowOf, type FeatureOutput, type WindowOutput, type SourceOptions, type EventTimeValue, type Table, type TableOptions, type TableLookup } from './topology.js';
export { parseDuration, formatDuration, type Duration } from './duration.js';
