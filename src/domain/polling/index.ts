/** Pure polling policies for the orchestration's waits (build run, gallery replication). */
export * from './history';
export * from './build-wait';
export {
  erfc,
  normalSurvival,
  logNormalFromQuantiles,
  logNormalPdf,
  logNormalSurvival,
  logNormalQuantile,
  type LogNormal,
} from './distribution';
export * from './replication';
