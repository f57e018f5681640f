// Tokens and price, from the message metadata the run sends before it ends.
export default function Cost({ cost }) {
  return (
    <section className="card" aria-labelledby="cost-heading">
      <h2 id="cost-heading">Cost</h2>
      <p id="cost" className="cost">
        {cost
          ? `${cost.inputTokens} prompt + ${cost.outputTokens} completion tokens · $${cost.usd.toFixed(6)}`
          : '–'}
      </p>
    </section>
  );
}
