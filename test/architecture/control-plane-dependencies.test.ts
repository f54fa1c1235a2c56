/**
 * control-plane/ runs in the vendor's Lambda function and CLI: it may use the shared contract of the sensor
 * (sensor/common/) but never the CDK app (lib/, aws-cdk-lib, constructs, cdk8s, cdk-nag), which would end up in the
 * function's bundle, nor the sensor's runtime. lib/ in turn may import the contract and table names of control-plane/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const ROOT = path.resolve(__dirname, '../..');
const FORBIDDEN_PACKAGES = /^(aws-cdk-lib|constructs|cdk8s|cdk8s-plus-\d+|cdk-nag|cdk-monitoring-constructs|@aws-cdk\/)/;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

function imports(file: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.arguments.length > 0 && ts.isStringLiteral(node.arguments[0])
      && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) {
      found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

test('control-plane/ imports neither the CDK app nor its libraries, and of the sensor only its common contract', () => {
  const offenders: string[] = [];
  for (const file of sourceFiles(path.join(ROOT, 'control-plane'))) {
    for (const specifier of imports(file)) {
      const relative = path.relative(ROOT, file);
      if (specifier.startsWith('.')) {
        const target = path.relative(ROOT, path.resolve(path.dirname(file), specifier));
        if (!target.startsWith('control-plane') && !target.startsWith(path.join('sensor', 'common'))) offenders.push(`${relative} -> ${target}`);
      } else if (FORBIDDEN_PACKAGES.test(specifier)) {
        offenders.push(`${relative} -> ${specifier}`);
      }
    }
  }
  expect(offenders).toEqual([]);
  // The walk found the code it guards.
  expect(sourceFiles(path.join(ROOT, 'control-plane')).length).toBeGreaterThan(15);
});
