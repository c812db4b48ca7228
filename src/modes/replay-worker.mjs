// Worker-thread entry for parallel replay. The thread's code comes from its bundle when the
// coordinator has one (replay-worker-bundle.ts), imported without tsx; tsx is registered only
// if the topology must be loaded through it. Otherwise the TypeScript sources load through tsx,
// as in bin/skewless.mjs.
import { workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

let registered = false;
const registerTsx = () => {
  if (!registered) register();
  registered = true;
};
const bundle = workerData.bundle;
let main;
if (typeof bundle === 'string') main = await import(pathToFileURL(bundle).href);
else {
  registerTsx();
  main = await import('./replay-worker-main.ts');
}
main.startReplayWorker(registerTsx);
