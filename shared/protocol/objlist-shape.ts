/** A device's objects and their instances, `{oid: [iid...]}` (canonicalObjList in ./objlist.ts makes it). No imports: the console uses it too. */
export type ObjList = Record<string, Array<string | number>>;
