declare module 'lwm2m-id' {
  interface EnumItem {
    key: string;
    value: number;
  }
  export function getOid(oid: string | number): EnumItem | undefined;
  export function getRid(oid: string | number, rid?: string | number): EnumItem | undefined;
}
