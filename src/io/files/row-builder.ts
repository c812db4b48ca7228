/** Builds the row object for index `i` from column arrays (one array per column name). */
export type RowBuilder = (columns: readonly ArrayLike<unknown>[], i: number) => Record<string, unknown>;

/**
 * A row builder for a fixed list of column names. It compiles an object literal so every row
 * gets the same hidden class up front: about 4x faster than assigning keys in a loop, and
 * downstream property reads stay monomorphic. Names are embedded as JSON string literals, so
 * no column name can inject code. `__proto__` as a literal key would set the prototype
 * instead of a property, so such schemas take the (slower) defineProperty path.
 */
export function compileRowBuilder(names: readonly string[]): RowBuilder {
  if (names.includes('__proto__')) return definePropertyBuilder(names);
  const fields = names.map((name, c) => `${JSON.stringify(name)}: columns[${c}][i]`).join(',\n');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- deliberate, see above
  return new Function('columns', 'i', `return {\n${fields}\n};`) as RowBuilder;
}

function definePropertyBuilder(names: readonly string[]): RowBuilder {
  return (columns, i) => {
    const row: Record<string, unknown> = {};
    for (let c = 0; c < names.length; c++) {
      Object.defineProperty(row, names[c], { value: columns[c][i], enumerable: true, writable: true, configurable: true });
    }
    return row;
  };
}
