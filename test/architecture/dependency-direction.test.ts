/**
 * Dependencies between the folders of `sensor/` run one way, as the data flows: a folder imports only folders of a
 * lower layer. So no stage imports the process layer (`runtime/`), the pipeline does not import exporters, and the
 * OTLP receiver does not import the runtime. Folders of the same layer (receiver and exporters) do not import each
 * other.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const SENSOR = path.resolve(__dirname, '../../sensor');

/** Layer of each folder under sensor/. A new folder gets a line here, placed after everything it imports. */
const LAYERS: Record<string, number> = {
  common: 0,
  capture: 1,
  http: 2,
  // Reassembly feeds each connection's bytes to its own HTTP decoder, so it sits on top of http/.
  streams: 3,
  provider: 4,
  span: 5,
  pipeline: 6,
  // Both meet the pipeline through its types: the receiver hands spans to it, exporters take spans from it.
  receiver: 7,
  exporters: 7,
  // Local mode's embedded store is one more exporter; its web UI reads the store.
  store: 8,
  ui: 9,
  // Composes the stages' config sections into one schema.
  config: 10,
  // The process layer: everything above, started and wired together; then the command line, and the demo that
  // starts a sensor the way the command line does.
  runtime: 11,
  cli: 12,
  demo: 13,
};

interface ImportEdge {
  file: string;
  specifier: string;
  from: string;
  to: string;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Every module a file names: imports, re-exports, `import x = require()`, `require()`, `import()` and `import('...')` types. */
function moduleSpecifiers(file: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      found.push(node.moduleReference.expression.text);
    } else if (ts.isCallExpression(node) && node.arguments.length > 0 && ts.isStringLiteral(node.arguments[0])) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) found.push(node.arguments[0].text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function folderOf(file: string): string | undefined {
  const relative = path.relative(SENSOR, file);
  if (relative.startsWith('..')) return undefined;
  const [first, ...rest] = relative.split(path.sep);
  return rest.length > 0 ? first : undefined;
}

function importEdges(): ImportEdge[] {
  return sourceFiles(SENSOR).flatMap((file) =>
    moduleSpecifiers(file)
      .filter((specifier) => specifier.startsWith('.'))
      .flatMap((specifier) => {
        const from = folderOf(file);
        const to = folderOf(path.resolve(path.dirname(file), specifier));
        return from && to && from !== to ? [{ file: path.relative(SENSOR, file), specifier, from, to }] : [];
      }),
  );
}

describe('sensor/ dependency direction', () => {
  const edges = importEdges();

  it('reads the imports it judges (the parser is not silently finding nothing)', () => {
    // Known, allowed edges of each kind of import statement.
    expect(edges).toEqual(expect.arrayContaining([
      expect.objectContaining({ file: path.join('runtime', 'sensor-runtime.ts'), from: 'runtime', to: 'pipeline' }),
      expect.objectContaining({ file: path.join('exporters', 'create-exporters.ts'), from: 'exporters', to: 'pipeline' }),
    ]));
  });

  it('knows the layer of every folder under sensor/', () => {
    const folders = fs.readdirSync(SENSOR, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
    const unplaced = folders.filter((folder) => LAYERS[folder] === undefined);
    expect(unplaced.map((folder) => `sensor/${folder}/ has no layer: add it to LAYERS in ${path.basename(__filename)}`)).toEqual([]);
  });

  it('has no import from a folder to one of the same or a later layer', () => {
    const backwards = edges
      .filter(({ from, to }) => LAYERS[from] !== undefined && LAYERS[to] !== undefined && LAYERS[to] >= LAYERS[from])
      .map(({ file, specifier, from, to }) => `sensor/${file} imports '${specifier}': ${from}/ (layer ${LAYERS[from]}) may not depend on ${to}/ (layer ${LAYERS[to]})`);
    expect(backwards).toEqual([]);
  });
});
