/** A uPlot time-series chart that follows its container's width. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

const PALETTE = ['#2563eb', '#db2777', '#16a34a', '#ea580c', '#7c3aed', '#0891b2', '#ca8a04', '#dc2626', '#4b5563', '#65a30d'];

export interface Series {
  label: string;
  values: Array<number | null>;
}

export function TimeChart({
  title,
  times,
  series,
  unit,
  testId,
  points = false,
}: {
  title: string;
  times: number[];
  series: Series[];
  unit?: (value: number) => string;
  testId?: string;
  /** Dots on every value: for series with gaps (latency), where a lone bucket would otherwise draw nothing. */
  points?: boolean;
}) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const format = unit ?? ((value: number) => value.toLocaleString('en-US'));
    const options: uPlot.Options = {
      width: Math.max(240, element.clientWidth),
      height: 220,
      series: [
        {},
        ...series.map((entry, index) => ({
          label: entry.label,
          stroke: PALETTE[index % PALETTE.length],
          width: 2,
          points: points ? { show: true, size: 6 } : { show: false },
          spanGaps: false,
          value: (_u: uPlot, value: number | null) => (value === null ? '–' : format(value)),
        })),
      ],
      axes: [{}, { values: (_u: uPlot, ticks: number[]) => ticks.map(format), size: 70 }],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
    const data: uPlot.AlignedData = [times.map((ms) => ms / 1000), ...series.map((entry) => entry.values)];
    const plot = new uPlot(options, data, element);
    const observer = new ResizeObserver(() => plot.setSize({ width: Math.max(240, element.clientWidth), height: 220 }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [times, series]);
  return (
    <figure class="chart" data-testid={testId}>
      <figcaption>{title}</figcaption>
      <div ref={container} />
    </figure>
  );
}
