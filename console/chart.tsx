import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

/** Times (s since the epoch) and values of one numeric resource, as notified. */
export interface Series {
  times: number[];
  values: number[];
}

/** A live line chart (uPlot) of a resource's notified values; `version` says new points came. */
export function Chart({ label, series, version }: { label: string; series: Series; version: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    if (!box.current) return;
    plot.current = new uPlot(
      {
        width: Math.min(900, box.current.clientWidth || 900),
        height: 220,
        series: [{}, { label, stroke: '#1f5fbf', width: 2, points: { show: true, size: 5 } }],
        axes: [{}, {}],
      },
      [series.times, series.values],
      box.current,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [label]);

  useEffect(() => {
    plot.current?.setData([series.times, series.values]);
  }, [version]);

  return <div class="chart" ref={box} />;
}
