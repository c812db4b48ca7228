// Worker-thread entry for parallel replay. The thread's code comes from its bundle when the
// coordinator has one (replay-worker-bundle.ts), imported without tsx; tsx is loaded and
// registered only if the topology must be loaded through it. Otherwise the TypeScript sources
// load through tsx, as in bin/skewless.mjs.
import { workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';

let registered;
const registerTsx = () => (registered ??= import('tsx/esm/api').then(({ register }) => void register()));
const bundle = workerData.bundle;
let main;
if (typeof bundle === 'string') main = await import(pathToFileURL(bundle).href);
else {
  await registerTsx();
  main = await import('./replay-worker-main.ts');
}
main.startReplayWorker(registerTsx);
