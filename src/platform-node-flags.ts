/**
 * The Node.js flags otaflow's process runs with. `npm start`, `npm run demo` and the image put them on
 * the command line (package.json, Dockerfile), the benchmark starts the otaflow process it measures
 * with them, and test/unit/platform-node-flags.test.ts checks that these agree.
 *
 * `--max-semi-space-size=4`: under allocation pressure V8 grows each isolate's young generation to
 * two 16 MiB semi-spaces. otaflow runs three isolates (the main thread and the SDK's two workflow
 * threads) and the workflows' garbage (the SDK keeps a stack trace per workflow promise) keeps all
 * three at that size. With 4 MiB semi-spaces the process's peak RSS with 10,000 upgrades in flight
 * was 967 MB instead of 1,031–1,050 MB, for about twice the scavenges: garbage collection took
 * 6.5 % of the device workflows' thread instead of 3.3 % (BENCHMARKS.md, "Memory").
 */
export const PLATFORM_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
