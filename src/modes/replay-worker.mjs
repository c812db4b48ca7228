// Worker-thread entry for parallel replay. The thread's code comes from its bundle when the
// coordinator has one (replay-worker-bundle.ts), imported before tsx is registered so that only
// the topology file goes through tsx; otherwise the TypeScript sources load through tsx, as in
// bin/skewless.mjs.
import { workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

const bundle = workerData.bundle;
let main;
if (typeof bundle === 'string') {
  main = await import(pathToFileURL(bundle).href);
  register();
} else {
  register();
  main = await import('./replay-worker-main.ts');
}
main.startReplayWorker();
