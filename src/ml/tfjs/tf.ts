/**
 * tfjs as pipe uses it: tfjs-core and tfjs-layers (the `@tensorflow/tfjs`
 * umbrella would add the webgl, converter and data bundles, useless in Node).
 */
import type * as Core from '@tensorflow/tfjs-core';
import type * as Layers from '@tensorflow/tfjs-layers';

export type Tf = typeof Core & typeof Layers;
export type * from '@tensorflow/tfjs-core';
export type * from '@tensorflow/tfjs-layers';
