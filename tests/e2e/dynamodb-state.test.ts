import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { createStateTable, startDynalite } from '../helpers/dynalite-server.js';
import { queryDuckDB, smelter } from '../helpers/cli.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * `state: { backend: dynamodb }` end to end: the smelter binary keeps its state records in a real
 * DynamoDB server (dynalite on 127.0.0.1), external models commit with them, a killed run is
 * finished by the next one, and a model another run holds is refused.
 */

let dynamo: Awaited<ReturnType<typeof startDynalite>>;
let endpoint: string;
let client: DynamoDBClient;
let tableCount = 0;

beforeAll(async () => {
  dynamo = await startDynalite();
  endpoint = dynamo.endpoint;
  client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
});

afterAll(async () => {
  client?.destroy();
  await dynamo?.close();
});

/** A fresh state table per test. */
async function newTable(): Promise<string> {
  const name = `smelter-state-${++tableCount}`;
  await createStateTable(client, name);
  return name;
}

const FACT =
  "{{ config(materialized='incremental', external=true, watermark='id', incremental_strategy='append') }}\nselect id, amount from {{ source('landing', 'orders') }}\n{% if is_incremental() %}where id > {{ watermark() }}{% endif %}\n";

function project(table: string, model = FACT, leaseSeconds = 60): string {
  return writeTempProject({
    'project.yml': `name: ddb\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1, state: { backend: dynamodb, table: ${table}, lease_seconds: ${leaseSeconds} } }\nmodels: { +retain_superseded: 0 }\n`,
    'models/sources.yml': "version: 2\nsources:\n  - name: landing\n    external_location: data/orders.csv\n    tables:\n      - name: orders\n",
    'models/fact.sql': model,
    'data/orders.csv': 'id,amount\n1,5\n2,20\n',
  });
}

const env = () => ({ AWS_ENDPOINT_URL_DYNAMODB: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
const run = (dir: string, extra: Record<string, string> = {}) => smelter(['run'], { projectDir: dir, env: { ...env(), ...extra } });
const land = (dir: string, csv: string) => writeFileSync(join(dir, 'data/orders.csv'), csv);
const rows = (dir: string) => queryDuckDB(join(dir, 'target/dev.duckdb'), 'select id, amount from main.fact order by id');

describe('the dynamodb state backend', () => {
  it('keeps the state records of external models in DynamoDB, run after run', async () => {
    const table = await newTable();
    const dir = project(table);
    expect((await run(dir)).code).toBe(0);
    land(dir, 'id,amount\n1,5\n2,20\n3,30\n');
    const second = await run(dir);
    expect(second.stderr).toBe('');
    expect(second.stdout).toMatch(/OK incremental main\.fact \.+ \[1 row in/);
    expect(await rows(dir)).toEqual([
      { id: '1', amount: '5' },
      { id: '2', amount: '20' },
      { id: '3', amount: '30' },
    ]);
    const { Item } = await client.send(new GetItemCommand({ TableName: table, Key: { table_name: { S: 'main.fact' } }, ConsistentRead: true }));
    expect({ version: Item?.version, value: Item?.last_processed_value, total: Item?.rows_total, pointer: Item?.manifest_pointer }).toEqual({
      version: { N: '2' },
      value: { S: '3' },
      total: { N: '3' },
      pointer: { S: '.smelter/manifests/main.fact/v2.json' },
    });
    const shown = await smelter(['state', 'show', '--output', 'json'], { projectDir: dir, env: env() });
    expect(JSON.parse(shown.stdout)).toMatchObject([{ table_name: 'main.fact', version: 2, last_processed_value: '3', rows_processed: 1 }]);
  });

  it('a run killed after its commit holds its lease until it expires; meanwhile the commit reads from staging; then the next run finishes it', async () => {
    const table = await newTable();
    // Long enough for the refused run below to start and reach the lease on a loaded machine.
    const dir = project(table, FACT, 10);
    expect((await run(dir)).code).toBe(0);
    land(dir, 'id,amount\n1,5\n2,20\n3,30\n');
    const killed = await run(dir, { SMELTER_CRASH_AT: 'after-commit' });
    expect(killed.code).toBe(null);
    const committed = [
      { id: '1', amount: '5' },
      { id: '2', amount: '20' },
      { id: '3', amount: '30' },
    ];
    // The dead run's lease fences the model: a run now may not publish or build it...
    const early = await run(dir);
    expect(early.code).toBe(3);
    expect(early.stdout).toMatch(/another run holds main\.fact/);
    // ...but what was committed is read, from the staging folder the publish had not emptied.
    expect(await rows(dir)).toEqual(committed);
    // Wait out the dead run's lease, as written in the model's item.
    const held = await client.send(new GetItemCommand({ TableName: table, Key: { table_name: { S: 'main.fact' } }, ConsistentRead: true }));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(held.Item?.lease_expires_at?.N) - Date.now() + 100)));
    expect((await run(dir)).code).toBe(0);
    expect(await rows(dir)).toEqual(committed);
    expect(readdirSync(join(dir, 'target/lake/main/fact')).filter((f) => f.endsWith('.parquet'))).toHaveLength(2);
    expect(existsSync(join(dir, 'target/lake/.smelter/staging'))).toBe(false);
  });

  it('refuses a model another run holds, and an incremental database table', async () => {
    const table = await newTable();
    const dir = project(table);
    const until = Date.now() + 60_000;
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: { table_name: { S: 'lease#main.fact' }, run_id: { S: 'other-run' }, acquired_at: { N: String(Date.now()) }, expires_at: { N: String(until) } },
      }),
    );
    const held = await run(dir);
    expect(held.code).toBe(3);
    expect(held.stdout).toContain(`another run holds main.fact: run other-run, lease until ${new Date(until).toISOString()}`);

    // The lease as this version keeps it: the holder in the model's own item.
    const freshTable = await newTable();
    const fresh = project(freshTable);
    await client.send(
      new UpdateItemCommand({
        TableName: freshTable,
        Key: { table_name: { S: 'main.fact' } },
        UpdateExpression: 'SET lease_run = :run, lease_expires_at = :until',
        ExpressionAttributeValues: { ':run': { S: 'other-run' }, ':until': { N: String(until) } },
      }),
    );
    const heldInItem = await run(fresh);
    expect(heldInItem.code).toBe(3);
    expect(heldInItem.stdout).toContain(`another run holds main.fact: run other-run, lease until ${new Date(until).toISOString()}`);
    const item = (await client.send(new GetItemCommand({ TableName: freshTable, Key: { table_name: { S: 'main.fact' } }, ConsistentRead: true }))).Item;
    expect(item).toStrictEqual({ table_name: { S: 'main.fact' }, lease_run: { S: 'other-run' }, lease_expires_at: { N: String(until) } });

    const tableModel = project(await newTable(), FACT.replace('external=true, ', ''));
    const refused = await run(tableModel);
    expect({ code: refused.code, stderr: refused.stderr.trim() }).toEqual({
      code: 2,
      stderr:
        'error: models/fact.sql: target dev keeps state in DynamoDB, so incremental model fact must be external (its files commit with its state record; a database table cannot) (set external: true)',
    });
  });
});
