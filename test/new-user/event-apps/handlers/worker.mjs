// Invoked asynchronously: logs each attempt, fails when asked to, otherwise echoes its tag.
export const handler = async (event, context) => {
  console.log(JSON.stringify({ attempt: event.tag, requestId: context.awsRequestId }));
  if (event.fail) throw new Error(`asked to fail: ${event.tag}`);
  return { echoed: event.tag };
};
