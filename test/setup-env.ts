// The SDK's notice that future releases need Node 22 is for operators, not for every test file.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
