/** The real myagent server (`python -m myagent.cli.server`) on a free port, for integration tests. */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../../../", import.meta.url));
/** The Python with myagent installed: `$MYAGENT_PYTHON` (pytest sets it) or the repository's `.venv`. */
export const PYTHON = process.env["MYAGENT_PYTHON"] ?? `${REPO}.venv/bin/python`;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export class RealServer {
  private constructor(
    readonly process: ChildProcess,
    readonly port: number,
    readonly log: string[],
  ) {}

  get url(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  /** Start `examples/<agent>` with `args`; resolves once the server says it is listening. */
  static start(args: string[] = [], options: { port?: number; agent?: string } = {}): Promise<RealServer> {
    return (async () => {
      const port = options.port ?? (await freePort());
      const agent = `examples/${options.agent ?? "weather_agent.py"}`;
      const argv = ["-m", "myagent.cli.server", "server", agent, "--host", "127.0.0.1", "--port", String(port), ...args];
      const child = spawn(PYTHON, argv, {
        cwd: REPO,
        env: { ...process.env, OPENAI_API_KEY: "", OPENAI_BASE_URL: "", MYAGENT_REDIS_URL: "" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const server = new RealServer(child, port, []);
      await new Promise<void>((resolve, reject) => {
        const onData = (chunk: Buffer): void => {
          server.log.push(String(chunk));
          if (server.log.join("").includes("myagent server listening on")) resolve();
        };
        child.stdout?.on("data", onData);
        child.stderr?.on("data", onData);
        child.once("exit", (code) => reject(new Error(`server exited with ${code}:\n${server.log.join("")}`)));
      });
      return server;
    })();
  }

  /** SIGTERM (a graceful shutdown, as in production) and wait for the process to end. */
  stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.process.once("exit", () => resolve());
      this.process.kill("SIGTERM");
    });
  }
}
