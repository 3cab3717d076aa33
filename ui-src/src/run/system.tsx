// System metrics: the `system` stream (cpu, memory, disk, net, gpu.N) charted against time,
// grouped by the part of each field's name before its last dot.
import { StreamInfo } from "../api";
import { Route } from "../route";
import { ChartsPanel } from "./charts";

export const SYSTEM_STREAM = "system";

export function groupOf(field: string): string {
  const dot = field.lastIndexOf(".");
  return dot > 0 ? field.slice(0, dot) : "other";
}

interface Props {
  runId: string;
  runName: string;
  createdAt: number;
  streams: StreamInfo[];
  route: Route;
  tick: number;
}

export function System(props: Props) {
  return (
    <ChartsPanel
      {...props}
      streams={props.streams.filter((s) => s.name === SYSTEM_STREAM)}
      xParam="sx"
      axes={["relative", "wallclock"]}
      defaultAxis="relative"
      fieldAxes={false}
      group={groupOf}
      empty="No system metrics (start the run with system_metrics=True)."
    />
  );
}
