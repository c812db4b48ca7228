import type { AggNode } from '../dsl/nodes.js';
import type { AggregationDef } from './aggregation.js';
import { countAgg } from './aggregations/count.js';
import { boundedCountDistinctAgg } from './aggregations/bounded-count-distinct.js';
import { countDistinctAgg } from './aggregations/count-distinct.js';
import { extremeAgg } from './aggregations/extreme.js';
import { lastAgg } from './aggregations/last.js';
import { bucketedAgg, type BucketedSpec } from './aggregations/bucketed.js';
import { histogramAgg } from './aggregations/histogram.js';
import { momentsAgg } from './aggregations/moments.js';
import { mostFrequentAgg } from './aggregations/most-frequent.js';
import { orderedKAgg } from './aggregations/ordered-k.js';
import { topKAgg } from './aggregations/top-k.js';
import { quantileAgg } from './aggregations/quantile.js';
import { sumAgg } from './aggregations/sum.js';
import { varianceAgg } from './aggregations/variance.js';

/** The aggregation implementation for a DSL aggregation node. */
export function aggregationFor(a: AggNode): AggregationDef {
  switch (a.kind) {
    case 'count':
      return countAgg(a.value !== undefined);
    case 'sum':
    case 'mean':
      return sumAgg(a.kind);
    case 'min':
    case 'max':
      return extremeAgg(a.kind);
    case 'stddev':
    case 'variance':
      return varianceAgg(a.kind, a.params.sample !== false);
    case 'countDistinct':
      return a.params.exactUpTo === undefined ? countDistinctAgg() : boundedCountDistinctAgg(Number(a.params.exactUpTo), Number(a.params.precision));
    case 'first':
      return orderedKAgg('first', 1, a.params.type === 'string' ? 'string' : 'double');
    case 'last':
      return lastAgg(a.params.type === 'string' ? 'string' : 'double');
    case 'skewness':
    case 'kurtosis':
      return momentsAgg(a.kind, a.params.sample !== false);
    case 'quantile':
    case 'quantiles': {
      const list = a.kind === 'quantiles';
      const qs = list ? String(a.params.qs).split(',').map(Number) : [Number(a.params.q)];
      return quantileAgg({ qs, list, exactUpTo: Number(a.params.exactUpTo), relativeError: Number(a.params.relativeError) });
    }
    case 'firstK':
    case 'lastK':
      return orderedKAgg(a.kind, Number(a.params.k), a.params.type === 'string' ? 'string' : 'double');
    case 'topK':
    case 'bottomK':
      return topKAgg(a.kind, Number(a.params.k));
    case 'mostFrequent':
      return mostFrequentAgg(Number(a.params.k));
    case 'histogram':
      if (a.params.bins !== undefined) return histogramAgg({ bins: String(a.params.bins).split(',').map(Number) });
      if (a.params.categories !== undefined) return histogramAgg({ categories: JSON.parse(String(a.params.categories)) as string[] });
      return histogramAgg({ maxCategories: Number(a.params.maxCategories) });
    case 'countBy':
    case 'sumBy':
    case 'meanBy': {
      const spec: BucketedSpec = a.params.categories !== undefined ? { categories: JSON.parse(String(a.params.categories)) as string[] } : { maxCategories: Number(a.params.maxCategories) };
      return bucketedAgg(a.kind === 'countBy' ? 'count' : a.kind === 'sumBy' ? 'sum' : 'mean', spec, a.value !== undefined);
    }
  }
}
