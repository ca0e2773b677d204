/** A packed profile imported `with { type: "file" }`: its path (on disk, or inside a compiled executable). */
declare module "*.qprof" {
  const path: string;
  export default path;
}

/** A gzip file imported `with { type: "file" }` (the device catalogues): its path, as for `*.qprof`. */
declare module "*.json.gz" {
  const path: string;
  export default path;
}
