#!/usr/bin/env node
// Topologies are TypeScript files; tsx compiles them (and skewless itself) on load.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
