#!/usr/bin/env node
// The `mcp-cloudrun-proxy` command of the npm package: runs the Go binary from the platform
// package npm installed beside it (@mcp-cloudrun-proxy/<platform>-<arch>, an optional
// dependency chosen by its os/cpu fields), with stdio passed through untouched.
"use strict";

const { spawn } = require("node:child_process");

const pkg = `@mcp-cloudrun-proxy/${process.platform}-${process.arch}`;
const exe = process.platform === "win32" ? "mcp-cloudrun-proxy.exe" : "mcp-cloudrun-proxy";

let binary;
try {
  binary = require.resolve(`${pkg}/bin/${exe}`);
} catch {
  process.stderr.write(
    `mcp-cloudrun-proxy: the package ${pkg} is not installed. It is an optional dependency ` +
      `of mcp-cloudrun-proxy for this platform; reinstall without --no-optional/--omit=optional, ` +
      `or use a release binary for ${process.platform}/${process.arch}.\n`,
  );
  process.exit(1);
}

// An MCP client stops its server with a signal to this process: hand it on. The handlers are
// in place before the binary starts, so that no signal can come between the two.
let child;
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    if (child) child.kill(sig);
    else process.exit(128 + require("node:os").constants.signals[sig]);
  });
}
child = spawn(binary, process.argv.slice(2), { stdio: "inherit" });
child.on("error", (err) => {
  process.stderr.write(`mcp-cloudrun-proxy: cannot start ${binary}: ${err.message}\n`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
