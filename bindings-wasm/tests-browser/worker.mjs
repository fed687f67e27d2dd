import { run } from './suite.mjs';
postMessage(await run(() => {}, { worker: true }).catch((e) => [{ name: 'suite', ok: false, error: String(e?.stack ?? e) }]));
