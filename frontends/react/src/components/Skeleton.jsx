// Grey bars where the answer will be, until its first token. Decoration only: hidden from
// screen readers (the status line says what is happening) and still under reduced motion.
export default function Skeleton() {
  return (
    <div className="skeleton" aria-hidden="true">
      <span />
      <span />
      <span />
    </div>
  );
}
