/**
 * Runs an Amazon States Language definition, for the subset the rollout state machine uses: Task (a Lambda function
 * by ARN, Parameters with `.$` paths into the state and `$$` context), Catch, Choice (BooleanEquals, StringEquals),
 * Wait (SecondsPath), Succeed and Fail. Anything else throws, so a definition that grows beyond it fails here.
 */
export interface ExecutionContext {
  name: string;
  input: unknown;
}

export type TaskInvoker = (resource: string, payload: unknown) => Promise<unknown>;

export interface ExecutionResult {
  status: 'SUCCEEDED' | 'FAILED';
  error?: string;
  cause?: string;
  output?: unknown;
  /** Names of the states entered, in order. */
  visited: string[];
}

function readPath(path: string, state: unknown, context: ExecutionContext): unknown {
  const [root, ...rest] = path.startsWith('$$.') ? ['$$', ...path.slice(3).split('.')] : ['$', ...path.slice(2).split('.').filter(Boolean)];
  let value: any = root === '$$' ? { Execution: { Name: context.name, Input: context.input } } : state;
  for (const key of rest) value = value?.[key];
  return value;
}

function parameters(template: Record<string, unknown>, state: unknown, context: ExecutionContext): Record<string, unknown> {
  return Object.fromEntries(Object.entries(template).map(([key, value]) =>
    key.endsWith('.$') ? [key.slice(0, -2), readPath(value as string, state, context)] : [key, value]));
}

export async function runStateMachine(definition: any, context: ExecutionContext, invoke: TaskInvoker, wait: (seconds: number) => Promise<void>, maxStates = 10_000): Promise<ExecutionResult> {
  let name: string = definition.StartAt;
  let state: unknown = context.input;
  const visited: string[] = [];
  for (let step = 0; step < maxStates; step += 1) {
    const current = definition.States[name];
    if (current === undefined) throw new Error(`state machine: no state ${name}`);
    visited.push(name);
    switch (current.Type) {
      case 'Task': {
        try {
          state = await invoke(current.Resource, current.Parameters === undefined ? state : parameters(current.Parameters, state, context));
        } catch (error) {
          const handler = (current.Catch ?? []).find((item: any) => item.ErrorEquals.includes('States.ALL') || item.ErrorEquals.includes((error as Error).name));
          if (handler === undefined) return { status: 'FAILED', error: (error as Error).name, cause: (error as Error).message, visited };
          name = handler.Next;
          break;
        }
        name = current.Next;
        break;
      }
      case 'Choice': {
        const match = current.Choices.find((choice: any) => {
          const value = readPath(choice.Variable, state, context);
          if ('BooleanEquals' in choice) return value === choice.BooleanEquals;
          if ('StringEquals' in choice) return value === choice.StringEquals;
          throw new Error(`state machine: choice rule ${JSON.stringify(choice)} is not supported`);
        });
        name = match?.Next ?? current.Default;
        break;
      }
      case 'Wait':
        await wait(current.SecondsPath !== undefined ? Number(readPath(current.SecondsPath, state, context)) : current.Seconds);
        name = current.Next;
        break;
      case 'Succeed':
        return { status: 'SUCCEEDED', output: state, visited };
      case 'Fail':
        return { status: 'FAILED', error: current.Error, cause: current.CausePath !== undefined ? String(readPath(current.CausePath, state, context)) : current.Cause, visited };
      default:
        throw new Error(`state machine: state type ${current.Type} is not supported`);
    }
  }
  throw new Error(`state machine: more than ${maxStates} states entered`);
}
