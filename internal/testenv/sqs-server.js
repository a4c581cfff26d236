// Starts local-aws-sqs on 127.0.0.1:PORT with the queues given as JSON in
// QUEUES ([{"QueueName": "...", "Attributes": {...}}]).
const { createSqsServer } = require("local-aws-sqs");
const port = Number(process.env.PORT);
const queues = JSON.parse(process.env.QUEUES || "[]");
createSqsServer({ port, hostname: "127.0.0.1", baseUrl: "/", queues }).catch((err) => {
  console.error(err);
  process.exit(1);
});
