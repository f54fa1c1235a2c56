/**
 * DynamoDB in memory behind aws-sdk-client-mock, for the document client's Put, Get, Update, Query and Scan with the
 * expressions the control plane's stores use: `SET a = :x, ...` updates, and conditions `attribute_exists(k)`,
 * `attribute_not_exists(k)` and `k = :v`. A failed condition throws ConditionalCheckFailedException as DynamoDB does.
 * Anything else throws, so a store that starts using more of DynamoDB fails here first.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';

type Item = Record<string, any>;

export interface FakeTableKeys {
  partitionKey: string;
  sortKey?: string;
  indexes?: Record<string, { partitionKey: string; sortKey?: string }>;
}

export class FakeDynamoDb {
  readonly tables = new Map<string, Map<string, Item>>();
  readonly calls: Array<{ command: string; table: string }> = [];
  private readonly stubs: Array<AwsClientStub<any>>;

  constructor(private readonly keys: Record<string, FakeTableKeys>) {
    for (const table of Object.keys(keys)) this.tables.set(table, new Map());
    const documents = mockClient(DynamoDBDocumentClient);
    const raw = mockClient(DynamoDBClient);
    this.stubs = [documents, raw];
    documents.on(PutCommand).callsFake((input) => this.put(input));
    documents.on(GetCommand).callsFake((input) => this.get(input));
    documents.on(UpdateCommand).callsFake((input) => this.update(input));
    documents.on(QueryCommand).callsFake((input) => this.query(input));
    documents.on(ScanCommand).callsFake((input) => this.scan(input));
  }

  restore(): void {
    for (const stub of this.stubs) stub.restore();
  }

  private table(name: string): { items: Map<string, Item>; keys: FakeTableKeys } {
    const items = this.tables.get(name);
    if (items === undefined) throw Object.assign(new Error(`Requested resource not found: Table: ${name} not found`), { name: 'ResourceNotFoundException' });
    return { items, keys: this.keys[name] };
  }

  private keyOf(keys: FakeTableKeys, item: Item): string {
    return JSON.stringify([item[keys.partitionKey], keys.sortKey === undefined ? null : item[keys.sortKey]]);
  }

  private check(condition: string | undefined, item: Item | undefined, values: Item = {}): void {
    if (condition === undefined) return;
    const pass = condition.split(' AND ').every((part) => {
      const exists = /^attribute_(not_)?exists\((\w+)\)$/.exec(part.trim());
      if (exists) return (item !== undefined && exists[2] in item) === (exists[1] === undefined);
      const equals = /^(\w+) = (:\w+)$/.exec(part.trim());
      if (equals) return item !== undefined && item[equals[1]] === values[equals[2]];
      throw new Error(`fake DynamoDB: condition "${part}" is not supported`);
    });
    if (!pass) throw Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });
  }

  private put(input: any) {
    this.calls.push({ command: 'Put', table: input.TableName });
    const { items, keys } = this.table(input.TableName);
    const key = this.keyOf(keys, input.Item);
    this.check(input.ConditionExpression, items.get(key), input.ExpressionAttributeValues);
    items.set(key, structuredClone(input.Item));
    return {};
  }

  private get(input: any) {
    this.calls.push({ command: 'Get', table: input.TableName });
    const { items, keys } = this.table(input.TableName);
    const item = items.get(this.keyOf(keys, input.Key));
    return { Item: item === undefined ? undefined : structuredClone(item) };
  }

  private update(input: any) {
    this.calls.push({ command: 'Update', table: input.TableName });
    const { items, keys } = this.table(input.TableName);
    const key = this.keyOf(keys, input.Key);
    const current = items.get(key);
    const values = input.ExpressionAttributeValues ?? {};
    this.check(input.ConditionExpression, current, values);
    const match = /^SET (.+)$/.exec(input.UpdateExpression);
    if (match === null) throw new Error(`fake DynamoDB: update "${input.UpdateExpression}" is not supported`);
    const next = structuredClone(current ?? { ...input.Key });
    for (const assignment of match[1].split(',')) {
      const [name, value] = assignment.split('=').map((part: string) => part.trim());
      next[input.ExpressionAttributeNames?.[name] ?? name] = structuredClone(values[value]);
    }
    items.set(key, next);
    return {};
  }

  private query(input: any) {
    this.calls.push({ command: 'Query', table: input.TableName });
    const { items, keys } = this.table(input.TableName);
    const index = input.IndexName === undefined ? keys : keys.indexes?.[input.IndexName];
    if (index === undefined) throw new Error(`fake DynamoDB: no index ${input.IndexName}`);
    const match = /^(\w+) = (:\w+)$/.exec(input.KeyConditionExpression);
    if (match === null || match[1] !== index.partitionKey) throw new Error(`fake DynamoDB: key condition "${input.KeyConditionExpression}" is not supported`);
    let found = [...items.values()].filter((item) => item[match[1]] === input.ExpressionAttributeValues[match[2]]);
    if (index.sortKey !== undefined) found.sort((a, b) => String(a[index.sortKey!]).localeCompare(String(b[index.sortKey!])));
    if (input.ScanIndexForward === false) found.reverse();
    if (input.Limit !== undefined) found = found.slice(0, input.Limit);
    return { Items: structuredClone(found) };
  }

  private scan(input: any) {
    this.calls.push({ command: 'Scan', table: input.TableName });
    return { Items: structuredClone([...this.table(input.TableName).items.values()]) };
  }
}
