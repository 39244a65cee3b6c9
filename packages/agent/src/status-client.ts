/**
 * `gingham agent status`: asks a running agent for its `/status` on its health port (loopback by
 * default). An agent that does not answer is `AGENT_NOT_RUNNING`, with what was tried.
 */
import { request } from 'node:http';
import { AgentError } from './errors.js';
import type { AgentStatus } from './status.js';

export function fetchAgentStatus(host: string, port: number, timeoutMs = 3000): Promise<AgentStatus> {
  return new Promise((resolve, reject) => {
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/status`;
    const req = request(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new AgentError('AGENT_NOT_RUNNING', `${url} answered ${res.statusCode}: is this a gingham agent's health port?`));
        try {
          resolve(JSON.parse(body) as AgentStatus);
        } catch {
          reject(new AgentError('AGENT_NOT_RUNNING', `${url} did not answer with an agent status`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: Error & { code?: string }) => {
      reject(new AgentError('AGENT_NOT_RUNNING', `no agent answers on ${url} (${err.code ?? err.message}); is it running, in this network namespace, with --health-port ${port}?`, { cause: err }));
    });
    req.end();
  });
}
