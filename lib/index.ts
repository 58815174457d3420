/** The reference app's stack and constructs (the generic ones are @floodgate/cdk). */
export * from './image-pipeline-stack';
export * from './job-api';
