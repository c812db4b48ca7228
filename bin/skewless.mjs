#!/usr/bin/env -S node --max-semi-space-size=64
// Topologies are TypeScript files; tsx compiles them (and skewless itself) on load.
// The larger young generation (shebang flag) keeps per-batch garbage from being promoted: ~30% faster replays.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
