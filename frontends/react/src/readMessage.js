// Place 2 of 3 where the app handles the stream: reading what has arrived so far.
//
// useChat turns the chunks into parts of one assistant message (readUIMessageStream):
//   reasoning          a thought of the agent            -> a step in the thinking panel
//   tool-search_kb     a tool call, then its output      -> a step in the thinking panel
//   source-document    a cited document                  -> a source chip
//   text               the answer, growing token by token
//   metadata           {runId} from the start, {cost} near the end
// It runs on every render, so the view is always exactly what arrived.
export function readMessage(message) {
  const steps = [];
  const sources = [];
  let text = '';
  for (const [index, part] of (message?.parts ?? []).entries()) {
    if (part.type === 'reasoning') {
      steps.push({ key: index, kind: 'thought', text: part.text });
    } else if (part.type.startsWith('tool-')) {
      steps.push({ key: index, kind: 'tool', text: describeTool(part) });
    } else if (part.type === 'source-document') {
      sources.push({ id: part.sourceId, title: part.title });
    } else if (part.type === 'text') {
      text += part.text;
    }
  }
  return { steps, sources, text, cost: message?.metadata?.cost ?? null };
}

function describeTool(part) {
  const name = part.type.slice('tool-'.length);
  const call = `${name}(${JSON.stringify(part.input ?? {})})`;
  if (part.state === 'output-available') {
    const found = part.output.sources.map((s) => s.doc_id).join(', ') || 'nothing';
    return `${call} → ${found}`;
  }
  if (part.state === 'output-error') return `${call} → ${part.errorText}`;
  return `${call} …`;
}
