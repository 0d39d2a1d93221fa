/**
 * Imported first by `npm run local`: the handlers run in this process and share
 * one logger, which reads its level once, when its module loads. LOG_LEVEL
 * (default WARN) sets it for the whole local stack.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= process.env.LOG_LEVEL || 'WARN';
// The Lambda runtime is Node.js 22; the SDK's notice about older local Node versions is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
