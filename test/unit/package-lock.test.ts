/**
 * `npm install` on a fresh clone must leave package-lock.json as committed (`npm ci` in .ci/run
 * refuses a lock out of step with package.json). npm copies these fields of package.json into
 * the lock's root entry, so a field added to one and not the other is a modified lock file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const read = (name: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(`../../${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;

test('the lock file root entry mirrors package.json, and every direct dependency is locked', () => {
  const pkg = read('package.json');
  const lock = read('package-lock.json');
  const packages = lock.packages as Record<string, Record<string, unknown>>;
  const root = packages[''];
  assert.equal(lock.name, pkg.name);
  assert.equal(lock.version, pkg.version);
  for (const field of ['name', 'version', 'dependencies', 'devDependencies', 'bin', 'engines'] as const) {
    assert.deepEqual(root[field], pkg[field], `package-lock.json packages[""].${field} differs from package.json: run npm install and commit the lock file`);
  }
  const direct = { ...(pkg.dependencies as Record<string, string>), ...(pkg.devDependencies as Record<string, string>) };
  for (const name of Object.keys(direct)) assert.ok(packages[`node_modules/${name}`], `${name} is not in package-lock.json: run npm install`);
});
