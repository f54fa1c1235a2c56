// Plumbing shared by the SDK client scripts: the plan arrives on stdin (never argv, which the sensor
// records as the process command line), results leave on stdout as one JSON document.
'use strict';

function readPlan() {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => (text += chunk));
    process.stdin.on('end', () => {
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(new Error(`client: stdin is not a JSON plan: ${error.message}`));
      }
    });
    process.stdin.on('error', reject);
  });
}

/**
 * Runs each call of the plan in order; a failed call records its error and the next one still runs.
 * `report` adds fields of the script's own to the output.
 */
async function runPlan(run, report = () => ({})) {
  const plan = await readPlan();
  const results = [];
  for (const call of plan.calls) {
    try {
      results.push({ name: call.name, ok: true, value: await run(plan, call) });
    } catch (error) {
      results.push({ name: call.name, ok: false, error: { status: error.status ?? error.$metadata?.httpStatusCode, name: error.name, message: error.message } });
    }
  }
  process.stdout.write(JSON.stringify({ pid: process.pid, results, ...report() }));
}

/** Options the openai and anthropic SDKs share: the plan's key and base URL, no retries, undici trusting the test CA. */
function undiciSdkOptions(plan) {
  const fs = require('node:fs');
  const { Agent, fetch } = require('undici');
  return {
    apiKey: plan.apiKey,
    baseURL: plan.baseURL,
    maxRetries: 0,
    fetch,
    fetchOptions: { dispatcher: new Agent({ connect: { ca: fs.readFileSync(plan.caPath, 'utf8') } }) },
  };
}

module.exports = { runPlan, undiciSdkOptions };
