// A failed run, in role="alert": announced at once, whatever else is being read.
// The region is always there, so assistive technology is already watching it when text comes.
export default function ErrorBox({ error }) {
  return (
    <div id="error" className="error" role="alert">
      {error ? error.message || 'The run failed.' : null}
    </div>
  );
}
