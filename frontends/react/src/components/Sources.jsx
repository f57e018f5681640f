// The documents the answer cites, as chips.
export default function Sources({ sources }) {
  return (
    <section className="card" aria-labelledby="sources-heading">
      <h2 id="sources-heading">Sources</h2>
      {sources.length === 0 ? (
        <p className="placeholder">None yet.</p>
      ) : (
        <ul id="sources" className="chips">
          {sources.map((source) => (
            <li key={source.id}>
              <b>{source.id}</b> {source.title}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
