/** A packed profile imported `with { type: "file" }`: its path (on disk, or inside a compiled executable). */
declare module "*.qprof" {
  const path: string;
  export default path;
}
