"""``make demo``: the whole product on real data (MovieLens-100K), on the local stack, in a few minutes.

1. fetch and cache MovieLens-100K, convert it to behaviour events;
2. start the local stack, train on the first 80 % of the history by time, publish and promote;
3. stream that history through Kinesis (PutRecords, partition key = user) while the updater builds profiles;
4. replay a sample of the remaining 20 % in time order through the live API (ask for the user's top 10,
   then send the event) and report HR/NDCG@10 next to frozen profiles and popularity (same events);
5. show a user's profile and recommendations with reasons, send a burst in a genre they never watched,
   and measure PutRecords-to-changed-answer freshness over many trials;
6. show a marketing audience and a risk-flagged user from a scripted bot burst;
7. write a Markdown report with PNG charts (``reports/demo/``). ``--serve`` keeps the stack running.
"""
