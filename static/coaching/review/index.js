// The review panel's entry point (the video-pages branch provides the real one).
export function mountReview() {
  return { onJoin() {} };
}
