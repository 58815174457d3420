// A custom resource handler answering CloudFormation on the ResponseURL (a presigned S3 PUT), as the
// cfn-response module does. It logs every request; with Fail "yes" it answers FAILED with a Reason.
export const handler = async (event) => {
  const p = event.ResourceProperties;
  console.log(`GREETER ${JSON.stringify({ RequestType: event.RequestType, PhysicalResourceId: event.PhysicalResourceId, Name: p.Name, OldName: event.OldResourceProperties?.Name })}`);
  const fail = p.Fail === 'yes' && event.RequestType !== 'Delete';
  const body = JSON.stringify({
    Status: fail ? 'FAILED' : 'SUCCESS',
    ...(fail ? { Reason: `the greeter refuses to greet ${p.Name}` } : {}),
    PhysicalResourceId: event.PhysicalResourceId ?? `greeter-${event.RequestId}`,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    Data: { Greeting: `hello ${p.Name}` },
  });
  const res = await fetch(event.ResponseURL, { method: 'PUT', headers: { 'content-type': '' }, body });
  if (!res.ok) throw new Error(`response PUT: HTTP ${res.status}`);
};
