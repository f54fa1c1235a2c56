/** The `sightline-vendor` command line (control-plane/cli). */
import { buildVendorCli } from '../control-plane/cli/vendor-cli';

export { buildVendorCli };

if (require.main === module) {
  buildVendorCli()
    .parseAsync(process.argv)
    .catch((error: Error) => {
      process.stderr.write(`sightline-vendor: ${error.message}\n`);
      process.exit(1);
    });
}
