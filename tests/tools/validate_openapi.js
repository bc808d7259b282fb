// Validates an OpenAPI document with @apidevtools/swagger-parser (schema
// and semantic checks: path parameters, operation ids, $refs). Exit 1 and
// the errors on failure.
//   node validate_openapi.js openapi.json
const SwaggerParser = require("@apidevtools/swagger-parser");

SwaggerParser.validate(process.argv[2])
  .then((api) => {
    const paths = Object.keys(api.paths).length;
    console.log(`valid OpenAPI ${api.openapi}: ${paths} paths`);
  })
  .catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
