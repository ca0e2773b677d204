/** A gzip file imported `with { type: "file" }`: its path (on disk, or inside a compiled executable). */
declare module "*.json.gz" {
  const path: string;
  export default path;
}
