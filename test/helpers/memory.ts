/** How much resident memory some work took at its peak, and how long: sampled every 10 ms. */
export async function measured<T> (work: () => Promise<T>): Promise<{ result: T, rssGrowth: number, seconds: number }> {
  const before = process.memoryUsage().rss
  let peak = before
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 10)
  const started = performance.now()
  try {
    const result = await work()
    return { result, rssGrowth: Math.max(peak, process.memoryUsage().rss) - before, seconds: (performance.now() - started) / 1000 }
  } finally {
    clearInterval(sampler)
  }
}
