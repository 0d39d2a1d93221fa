/**
 * Imported first by command-line tools (admin, bench): the handlers' JSON
 * logger would otherwise interleave with their output. The logger reads its
 * level once, when its module loads, so this must run before any other import.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
// The Lambda runtime is Node.js 22; the SDK's notice about older local Node versions is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Metrics are EMF lines on stdout, read by CloudWatch from a Lambda's log only: from a command they would corrupt its JSON output.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
