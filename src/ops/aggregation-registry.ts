import type { AggNode } from '../dsl/nodes.js';
import type { AggregationDef } from './aggregation.js';
import { countAgg } from './aggregations/count.js';
import { countDistinctAgg } from './aggregations/count-distinct.js';
import { extremeAgg } from './aggregations/extreme.js';
import { lastAgg } from './aggregations/last.js';
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
      return countDistinctAgg();
    case 'last':
      return lastAgg(a.params.type === 'string' ? 'string' : 'double');
  }
}
