import type { FactsFunction } from '../../core/stage.js';
import { autoBackend, type BackendName } from './platform.js';

/** The facts of tfjs stage kinds: the backend they really run on (what `auto` picks on this machine). */
const facts: FactsFunction = async (params) => {
  const requested = params.backend as BackendName;
  return { backend: requested === 'auto' ? (await autoBackend()).backend : requested };
};

export default facts;
