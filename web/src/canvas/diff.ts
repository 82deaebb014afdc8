// Where two versions of a value differ: the path of the smallest part that holds
// every difference (`subsets[1].rule.value`), "" for the whole value, undefined
// when they are equal. The editor uses it to coalesce typing in one field into
// one undo step. Pure: unit-tested.

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function join(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

export function changedPath(a: unknown, b: unknown, path = ""): string | undefined {
  if (Object.is(a, b)) return undefined;
  const changes: string[] = [];
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return path;
    for (let i = 0; i < a.length; i++) {
      const c = changedPath(a[i], b[i], join(path, i));
      if (c !== undefined) changes.push(c);
      if (changes.length > 1) return path;
    }
  } else if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) {
      if (!(key in a) || !(key in b)) {
        changes.push(join(path, key));
      } else {
        const c = changedPath(a[key], b[key], join(path, key));
        if (c !== undefined) changes.push(c);
      }
      if (changes.length > 1) return path;
    }
  } else {
    return path;
  }
  return changes[0];
}
