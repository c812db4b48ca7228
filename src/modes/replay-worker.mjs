// Worker-thread entry for parallel replay: TypeScript is loaded through tsx, as in bin/skewless.mjs.
import { register } from 'tsx/esm/api';

register();
await import('./replay-worker-main.ts');
