// Piscina entry used only when the hub runs from TypeScript sources (npm start, tests): worker
// threads do not inherit the main thread's tsx loader, so this registers it, then loads the real
// task module named in workerData.$module. The compiled image loads workers/*.js directly.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const mod = await import(workerData.$module);
export default mod.default;
