// A client built from the gateway's own /openapi.json (swagger-client turns
// each operation into a function) calls three routes the way a generated
// client would, and prints what it got as JSON.
//   node openapi_client.js http://127.0.0.1:PORT ck_...
const SwaggerClient = require("swagger-client");

async function main() {
  const [base, key] = process.argv.slice(2);
  const client = await SwaggerClient({
    url: `${base}/openapi.json`,
    authorizations: { bearer: { value: key } },
  });
  const statutes = await client.apis.GuidanceService.GuidanceService_ListStatutes({});
  const created = await client.apis.CaseService.CaseService_CreateCase(
    { requestId: "openapi-client-1" },
    {
      requestBody: {
        client: { id: "crm-9", displayName: "郑十一", phone: "13812345678" },
        leakedData: ["LEAKED_DATA_PHONE"],
      },
    },
  );
  const id = created.body.name.split("/")[1];
  const got = await client.apis.CaseService.CaseService_GetCase({ case: id });
  const provision = await client.apis.GuidanceService.GuidanceService_GetProvision({
    statute: "public-security-administration-punishments",
    provision: "art_42",
    asOf: "2020-01-01",
  });
  console.log(JSON.stringify({
    statutes: statutes.body.statutes.length,
    created: created.body.name,
    got: got.body.name,
    maskedPhone: got.body.client.phone,
    provision: provision.body.label,
  }));
}

main().catch((err) => {
  console.error(err.response ? JSON.stringify(err.response.body) : err.message);
  process.exit(1);
});
